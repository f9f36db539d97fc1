"""The local sign-in form: a plain HTML page served by the app's own route, not a Streamlit page.

Why not a Streamlit form: Streamlit talks over a websocket, and only a real HTTP response can set
the HttpOnly session cookie that keeps a person signed in across reloads and new tabs. A plain
form also lets the browser's password manager do its job. Everything interpolated is escaped.
"""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Workbench</title>
<link rel="icon" href="/auth/favicon.png">
<style>
  body {{ font-family: "Source Sans Pro", system-ui, sans-serif; background: #fff; color: #31333f;
         display: flex; justify-content: center; margin: 0; padding: 4rem 1rem; }}
  main {{ width: 100%; max-width: 22rem; }}
  h1 {{ font-size: 1.75rem; font-weight: 700; margin: 0 0 1.5rem; }}
  label {{ display: block; font-size: 0.875rem; margin: 1rem 0 0.25rem; }}
  input {{ box-sizing: border-box; width: 100%; padding: 0.5rem 0.75rem; font-size: 1rem;
          border: 1px solid #d6d6d9; border-radius: 0.5rem; background: #f0f2f6; }}
  button {{ margin-top: 1.5rem; padding: 0.5rem 1rem; font-size: 1rem; border: 0;
           border-radius: 0.5rem; background: #ff4b4b; color: #fff; cursor: pointer; }}
  .problem {{ background: #ffecec; color: #7d353b; border-radius: 0.5rem; padding: 0.75rem 1rem;
             margin-bottom: 1rem; }}
  .note {{ color: #808495; font-size: 0.875rem; margin-top: 2rem; }}
</style>
</head>
<body>
<main>
<h1>Sign in to the workbench</h1>
{problem}
<form method="post" action="/auth/sign-in">
  <input type="hidden" name="next" value="{next_path}">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" value="{username}"
         maxlength="200" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password"
         maxlength="1000" required>
  <button type="submit">Sign in</button>
</form>
<p class="note">No account yet? Ask a workspace admin to add you.</p>
</main>
</body>
</html>
"""


def sign_in_page(
    next_path: str, *, username: str = "", problem: str | None = None, status_code: int = 200
) -> HTMLResponse:
    shown = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    body = _PAGE.format(
        problem=shown, next_path=escape(next_path, quote=True), username=escape(username[:200])
    )
    # Never cached: it may carry a message about this person's attempt.
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})
