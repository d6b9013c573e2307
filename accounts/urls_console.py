"""Console pages of identities: the portal's session pages, and the provider's agents."""

from __future__ import annotations

from django.urls import path

from accounts import console
from accounts.urls_portal import urlpatterns as session_urlpatterns

urlpatterns = [
    *session_urlpatterns,
    path("agents/", console.agent_list, name="console-agents"),
    path("agents/new/", console.agent_new, name="console-agent-new"),
    path("agents/<int:agent_id>/", console.agent_detail, name="console-agent"),
    path("agents/<int:agent_id>/deactivate/", console.agent_deactivate, name="console-agent-deactivate"),
    path("agents/<int:agent_id>/reactivate/", console.agent_reactivate, name="console-agent-reactivate"),
]
