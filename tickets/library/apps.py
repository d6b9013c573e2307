from django.apps import AppConfig


class RequestLibraryConfig(AppConfig):
    """The provider's library of request types, copied to any customer (``tickets.types``)."""

    name = "tickets.library"
    label = "request_library"
    verbose_name = "Request type library"
