// Runs before first paint (classic script, not a module): applies the remembered theme, or
// the system's while nothing is remembered (and follows it when it changes), so the CSS
// needs the dark palette once, under [data-theme="dark"].
(function () {
  var media = window.matchMedia("(prefers-color-scheme: dark)");
  function remembered() {
    try {
      var theme = localStorage.getItem("og-theme");
      return theme === "dark" || theme === "light" ? theme : null;
    } catch (e) {
      return null; // storage disabled: follow the system
    }
  }
  function apply() {
    document.documentElement.dataset.theme = remembered() || (media.matches ? "dark" : "light");
  }
  apply();
  media.addEventListener("change", function () { if (!remembered()) apply(); });
})();
