"""The app server's own HTTP layer around Streamlit: extra routes (sign-in, images) and the
middleware every response passes through (security headers, internal routes hidden)."""
