// Runs before first paint (classic script, not a module): applies the remembered theme.
// Without a remembered choice the page follows prefers-color-scheme through CSS alone.
(function () {
  try {
    var theme = localStorage.getItem("og-theme");
    if (theme === "dark" || theme === "light") document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage disabled: follow the system */ }
})();
