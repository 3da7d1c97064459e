"""Helpers of the browser test: a real JupyterLab server and a Playwright-driven chromium page."""
