"""The widgets in a real browser: run the fixture notebook, move sliders, see new figures.

Each view prints a status line after its final redraw ("drawn 3: ..., k = 2, ..."): a
slider sends every value it passes through, so the tests wait for the status naming the
final value, then compare the figure (the Image widget's src) with the one before.
"""

import pytest

pytestmark = pytest.mark.browser

WAIT_MS = 30_000  # the longest any single step may take (kernel start included)
NOTEBOOK = "widgets_demo.ipynb"


@pytest.fixture(scope="module")
def notebook_page(lab_server, browser, artifacts):
    """The fixture notebook open in JupyterLab, all cells run, both views drawn."""
    from playwright.sync_api import expect

    base, token = lab_server
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
    # The toolbar says "idle" before any kernel exists; the status bar names the kernel.
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=WAIT_MS)
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    for view in ("bptt-explorer", "hidden-state-explorer", "loss-curve"):
        status = page.locator(f".rnnlib-{view} .rnnlib-status")
        expect(status).to_contain_text("drawn 1:", timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "notebook.png"), full_page=True)
    yield page
    page.close()


def image_src(page, view: str) -> str:
    return page.locator(f".rnnlib-{view} img.widget-image").first.get_attribute("src")


def slider(page, view: str, label: str):
    """The slider of `view` whose description is `label`."""
    return page.locator(f".rnnlib-{view} .widget-slider").filter(
        has=page.locator(".widget-label", has_text=label)
    )


def move(page, view: str, label: str, key: str, times: int) -> None:
    handle = slider(page, view, label).locator(".noUi-handle")
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key)


def test_truncation_slider_redraws_the_bptt_explorer(notebook_page, artifacts):
    from playwright.sync_api import expect

    page, view = notebook_page, "bptt-explorer"
    status = page.locator(f".rnnlib-{view} .rnnlib-status")
    expect(status).to_contain_text("k = 4")
    before = image_src(page, view)
    move(page, view, "truncation k", "ArrowLeft", 3)  # 4 -> 1, through 3 and 2
    expect(status).to_contain_text("k = 1, t = 12", timeout=WAIT_MS)  # 13 words
    expect(slider(page, view, "truncation k").locator(".widget-readout")).to_have_text("1")
    after = image_src(page, view)
    assert after != before and after.startswith(("blob:", "data:image/png"))
    page.locator(f".rnnlib-{view}").screenshot(path=str(artifacts / "bptt_explorer.png"))


def test_unit_slider_redraws_the_hidden_state_explorer(notebook_page, artifacts):
    from playwright.sync_api import expect

    page, view = notebook_page, "hidden-state-explorer"
    status = page.locator(f".rnnlib-{view} .rnnlib-status")
    expect(status).to_contain_text("unit = 0")
    before = image_src(page, view)
    words_before = page.locator(f".rnnlib-{view} .widget-html").first.inner_html()
    move(page, view, "unit", "ArrowRight", 5)
    expect(status).to_contain_text("unit = 5", timeout=WAIT_MS)
    assert image_src(page, view) != before
    assert page.locator(f".rnnlib-{view} .widget-html").first.inner_html() != words_before
    page.locator(f".rnnlib-{view}").screenshot(path=str(artifacts / "hidden_state_explorer.png"))


def test_train_button_draws_the_loss_curve_live(notebook_page, artifacts):
    from playwright.sync_api import expect

    page, view = notebook_page, "loss-curve"
    status = page.locator(f".rnnlib-{view} .rnnlib-status")
    expect(status).to_contain_text("0 of 0 evaluations")
    before = image_src(page, view)
    page.locator(f".rnnlib-{view} button", has_text="Train").click()
    # Evaluations before epoch 0 and after epochs 1, 2, 3: each one redrawn as it comes.
    expect(status).to_contain_text("4 of 4 evaluations", timeout=WAIT_MS)
    assert image_src(page, view) != before
    page.locator(f".rnnlib-{view}").screenshot(path=str(artifacts / "loss_curve.png"))


def test_the_live_widget_is_shown_not_its_static_copy(notebook_page):
    # Each view's output carries a PNG for GitHub too; JupyterLab must show the widget only.
    page = notebook_page
    outputs = page.locator(".jp-OutputArea-output")
    pngs = outputs.locator("img:not(.widget-image)")
    assert pngs.count() == 0
    assert page.locator(".rnnlib-view img.widget-image").count() == 3
