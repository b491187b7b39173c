"""The demo: believable data in three languages, loaded once, and `simcare demo`.

catalog.json, stores.json and people.json are the demo's own data; inventory.py
generates its stock; loader.py loads everything through the product's services;
credentials.py keeps the demo logins; processes.py runs the web server and the
worker together.
"""
