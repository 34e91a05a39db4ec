// A click on a numbered reference [n] shows that source: the hidden #cite-trigger button sends the
// reference ("turn:n", kept in window.askpfgCite) to the server, which fills #source-panel.
document.addEventListener(
  "click",
  (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.cite") : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    window.askpfgCite = link.dataset.ref;
    document.querySelectorAll("a.cite.active").forEach((a) => a.classList.remove("active"));
    link.classList.add("active");
    document.getElementById("cite-trigger")?.click();
    document.getElementById("source-panel")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  },
  true,
);
