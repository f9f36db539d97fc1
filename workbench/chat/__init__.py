"""Chat: saved conversations and the submission of one chat turn from the page to the gateway."""
