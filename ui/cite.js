// A click on a numbered reference [n] (href "#source-TURN-N") shows that source: the hidden
// #cite-trigger button sends "TURN:N" (kept in window.askpfgCite) to the server, which fills #source-panel.
document.addEventListener(
  "click",
  (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.cite") : null;
    const ref = link && /^#source-(\d+)-(\d+)$/.exec(link.getAttribute("href") || "");
    if (!ref) return;
    event.preventDefault();
    event.stopPropagation();
    window.askpfgCite = `${ref[1]}:${ref[2]}`;
    document.querySelectorAll("a.cite.active").forEach((a) => a.classList.remove("active"));
    link.classList.add("active");
    document.getElementById("cite-trigger")?.click();
    document.getElementById("source-panel")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  },
  true,
);

// "Copy with references" on an answer copies its plain text (kept hidden beside it) rather than its HTML.
document.addEventListener(
  "click",
  async (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.copy-answer") : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const text = link.closest(".answer, .refusal")?.querySelector(".plain")?.textContent ?? "";
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // no clipboard API (a page served over plain HTTP from another host): the older way
      const area = Object.assign(document.createElement("textarea"), { value: text });
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    link.textContent = "Copied";
    setTimeout(() => (link.textContent = "Copy with references"), 2000);
  },
  true,
);
