"""The first thing a learner sees: `make lab`'s URL opens the start page, and it leads on.

The server is started as `make lab` starts it (rnnlib.tools.lab.lab_command); the URL is the
one `make lab` prints (rnnlib.tools.lab.start_url), and the bare server address must land on
the same page (the server's default URL).
"""

import pytest

from rnnlib.tools.lab import START_PAGE, start_url

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
FIRST_NOTEBOOK = "01_text_to_training_data.ipynb"


def current_tab(page, name: str):
    return page.locator(".jp-mod-current.lm-TabBar-tab", has_text=name)


@pytest.mark.parametrize("which", ["printed URL", "server address"])
def test_make_lab_opens_on_the_start_page_and_its_table_opens_notebook_1(
    lab_server, lab_api, browser, artifacts, which
):
    from playwright.sync_api import expect

    base, token, port = lab_server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(start_url(port, token) if which == "printed URL" else f"{base}/?token={token}")
        expect(current_tab(page, START_PAGE)).to_be_visible()
        heading = page.locator(".jp-MarkdownOutput h1").first
        expect(heading).to_contain_text("Start here")
        table_rows = page.locator(".jp-MarkdownOutput table").first.locator("tbody tr")
        expect(table_rows).to_have_count(8)  # notebooks 1 to 8, each with its time and memory
        if which == "printed URL":
            page.screenshot(path=str(artifacts / "start_page.png"))
        # The table's first link opens notebook 1 in JupyterLab (not a download, not a 404).
        page.locator(".jp-MarkdownOutput a", has_text="01 text").first.click()
        expect(current_tab(page, FIRST_NOTEBOOK)).to_be_visible()
        title = page.locator(".jp-MarkdownOutput h1", has_text="From raw text to training data")
        expect(title).to_be_visible()  # its tab is in front, rendered
    finally:
        page.close()
        # As a first visit finds it: no kernel left running, no tab left open to restore.
        for session in lab_api("api/sessions"):
            lab_api(f"api/sessions/{session['id']}", method="DELETE")
        lab_api("lab/api/workspaces/default", method="DELETE")
