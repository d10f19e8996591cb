"""The residents' map (``/carte``, ``/map``): a Folium page that reads the OGC API live.

``server.map.routes.register(app, settings)`` serves it on the Flask app.
"""
