/**
 * The frame every BPF Lens webview page shares: a strict CSP (only this page's nonce'd style
 * and script run, nothing is fetched), the title stripped of markup, then the page's own body
 * and script. One place, so a page cannot loosen the policy by copying it wrong.
 */
export function webviewPage(p: { nonce: string; cspSource: string; title: string; style: string; body: string; script: string }): string {
  const csp = `default-src 'none'; style-src ${p.cspSource} 'nonce-${p.nonce}'; script-src 'nonce-${p.nonce}';`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${p.title.replace(/[<>&"]/g, '')}</title>
<style nonce="${p.nonce}">${p.style}</style></head>
<body>
${p.body}
<script nonce="${p.nonce}">${p.script}</script>
</body></html>`;
}
