"""The demo as a person uses it, in Debian's headless Chromium (driven by selenium and
chromedriver): every page through the navigation, the login form, the session page,
APPEND_SLASH and the 404 page. Screenshots of each page go to the directory given.

Usage: tour.py BASE_URL SCREENSHOT_DIR   (exit 0 when every check holds)
"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

base, shots = sys.argv[1].rstrip("/"), sys.argv[2]
os.makedirs(shots, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--window-size=1000,800"):
    options.add_argument(flag)
driver = webdriver.Chrome(
    service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
seen = []


def page(name):
    """The page's heading and message, with a screenshot."""
    driver.save_screenshot(os.path.join(shots, f"{len(seen):02d}-{name}.png"))
    heading = driver.find_element(By.TAG_NAME, "h1").text
    message = driver.find_element(By.ID, "message").text
    seen.append({"step": name, "url": driver.current_url, "h1": heading, "message": message})
    return heading, message


def nav(label):
    driver.find_element(By.CSS_SELECTOR, "nav").find_element(By.LINK_TEXT, label).click()


def expect(actual, wanted, what):
    if actual != wanted:
        raise AssertionError(f"{what}: {actual!r} != {wanted!r}\n{json.dumps(seen, indent=1)}")


try:
    driver.get(base + "/")
    expect(page("counter")[1], "Visit count: 1", "first visit")
    nav("Counter")
    expect(page("counter-again")[1], "Visit count: 2", "second visit")
    nav("About")
    expect(page("about")[1], "Cookie Tested! Visit count: 2", "the test cookie came back")
    nav("Session")
    _, message = page("session")
    table = driver.find_element(By.TAG_NAME, "table").text
    if "num_visits" not in table or "Engine" not in table:
        raise AssertionError(f"the session page shows the stored data: {table}")
    nav("Log in")
    expect(page("login-form")[1], "Not logged in.", "no one is logged in")
    driver.find_element(By.NAME, "username").send_keys("ada <admin>")
    driver.find_element(By.TAG_NAME, "button").click()
    expect(page("logged-in")[1], "Logged in as ada <admin>.", "login")
    nav("Log in")
    expect(page("connection")[1], "Logged in as ada <admin>.", "still logged in")
    nav("Log out")
    expect(page("logged-out")[1], "You are logged out.", "logout")
    driver.find_element(By.LINK_TEXT, "Back to the counter").click()
    expect(page("counter-after-logout")[1], "Visit count: 1", "a fresh session")
    nav("Reset")
    expect(page("reset")[1], "Visit count reset.", "reset")
    driver.get(base + "/about")
    heading, _ = page("append-slash")
    expect(driver.current_url, base + "/about/", "APPEND_SLASH redirect")
    expect(heading, "About", "the redirected page")
    driver.get(base + "/nowhere/")
    expect(page("not-found")[0], "Not Found", "404 page")
finally:
    driver.quit()
print(json.dumps(seen))
