"""Request types and their custom fields (issue 19): each customer's kinds of request, each with a
versioned form; ``values`` is the one place a form's values are checked, for every channel."""
