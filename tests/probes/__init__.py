"""Generated probes: every route of the console, the API and the portals, found by walking the
URL resolvers (``routes``), a shared set of objects in two customers whose ids collide
(``world``), and the table of what each path argument names (``kinds``)."""
