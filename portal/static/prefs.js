// Text size and high contrast, remembered on this device. Buttons expose their state with aria-pressed.
(function () {
  var root = document.documentElement;
  function bind(id, cls) {
    var btn = document.getElementById(id);
    if (!btn) return;
    var on = localStorage.getItem('mh-' + cls) === '1';
    root.classList.toggle(cls, on);
    btn.setAttribute('aria-pressed', on ? 'true' : 'false');
    btn.addEventListener('click', function () {
      on = !on;
      root.classList.toggle(cls, on);
      btn.setAttribute('aria-pressed', on ? 'true' : 'false');
      localStorage.setItem('mh-' + cls, on ? '1' : '0');
    });
  }
  bind('text-size', 'large');
  bind('contrast', 'contrast');
  var sel = document.getElementById('lang-select');
  if (sel) sel.addEventListener('change', function () { document.cookie = 'lang=' + sel.value + ';path=/;SameSite=Lax'; });
})();
