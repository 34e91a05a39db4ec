"""Small real documents of every supported type, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF whose text layer is `text` (pypdf reads it back)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def write_samples(folder: Path) -> dict[str, Path]:
    """One file per supported type, each stating a distinct fact."""
    import docx

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "md": folder / "note.md",
        "txt": folder / "memo.txt",
        "pdf": folder / "minute.pdf",
        "docx": folder / "briefing.docx",
        "html": folder / "page.html",
    }
    paths["md"].write_text(
        "---\nid: 2024-02-01-note-kite-mark\ntitle: Kite mark note\ndate: 2024-02-01\nauthor: An official\n"
        "recipient: A committee\nkind: document\nsource: note.md\n---\nThe kite mark pilot covers twelve councils in 2024.\n",
        encoding="utf-8",
    )
    paths["txt"].write_text("Memo on lighthouse funding\n\nThe lighthouse fund pays 7 coastal projects.\n", encoding="utf-8")
    paths["pdf"].write_bytes(minimal_pdf("The orchard scheme supports 19 foster families in Powys."))
    document = docx.Document()
    document.add_paragraph("The harbour grant reached 33 young carers in Conwy.")
    document.save(str(paths["docx"]))
    paths["html"].write_text(
        "<html><body><nav>Skip to main content</nav><h1>Bridge update</h1>"
        "<p>The bridge programme trained 41 advocates in Ceredigion.</p></body></html>",
        encoding="utf-8",
    )
    return paths
