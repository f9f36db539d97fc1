"""The Streamlit side: the router, who is signed in, the page chrome, the page registry, cached
reads and the sentences refusals are shown as."""
