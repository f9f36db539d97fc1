"""Sign-in that does not need Streamlit: local accounts with scrypt-hashed passwords."""
