// cheeseshop's island loader. Pages are rendered on the server; the only
// code that runs in the browser is the islands' (<leptos-island> elements:
// the search box's suggestions, the copy buttons). This script gets the
// bundle's URLs, starts loading it at once when the page has an island that
// must work from the start, and otherwise waits until a visitor turns to an
// island marked data-hydrate="interaction" (focus, or a pointer over it):
// the search box is an ordinary form until then.
(jsUrl, wasmUrl) => {
  const islands = Array.from(document.querySelectorAll('leptos-island'));
  if (islands.length === 0) return;
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    // The WebAssembly downloads beside the JavaScript, not after it.
    const wasm = fetch(wasmUrl);
    import(jsUrl).then(async (bundle) => {
      await bundle.default({ module_or_path: wasm });
      bundle.hydrate();
      for (const island of islands) {
        const hydrateIsland = bundle[island.dataset.component];
        if (hydrateIsland) hydrateIsland(island);
      }
      // Text typed while the code was on its way gets its suggestions now.
      const active = document.activeElement;
      if (active && active.closest('leptos-island') && active.value) {
        active.dispatchEvent(new Event('input', { bubbles: true }));
      }
      document.body.dataset.hydrated = 'true';
    });
  };
  const onInteraction = (island) => island.querySelector('[data-hydrate="interaction"]') !== null;
  if (!islands.every(onInteraction)) {
    start();
    return;
  }
  const focused = document.activeElement;
  if (focused && focused.closest('[data-hydrate="interaction"]')) {
    start();
    return;
  }
  const wake = (event) => {
    if (event.target instanceof Element && event.target.closest('[data-hydrate="interaction"]')) {
      document.removeEventListener('focusin', wake);
      document.removeEventListener('pointerover', wake);
      start();
    }
  };
  document.addEventListener('focusin', wake);
  document.addEventListener('pointerover', wake);
}
