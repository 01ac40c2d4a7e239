// Parsing of WWW-Authenticate headers (RFC 7235): `Bearer realm="...",service="...",scope="..."`, `Basic realm=...`.

/** One challenge: its scheme in lowercase and its parameters (names in lowercase). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/** Parses a WWW-Authenticate value, which may hold several comma-separated challenges; never throws. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let pos = 0;
  const skipSpace = (): void => {
    while (pos < header.length && (header[pos] === " " || header[pos] === "\t")) pos++;
  };
  const readToken = (): string => {
    const start = pos;
    while (pos < header.length && TOKEN_CHAR.test(header[pos]!)) pos++;
    return header.slice(start, pos);
  };
  const readValue = (): string => {
    if (header[pos] !== '"') {
      const start = pos;
      while (pos < header.length && header[pos] !== "," && header[pos] !== " " && header[pos] !== "\t") pos++;
      return header.slice(start, pos);
    }
    pos++;
    let value = "";
    while (pos < header.length && header[pos] !== '"') {
      if (header[pos] === "\\" && pos + 1 < header.length) pos++;
      value += header[pos];
      pos++;
    }
    pos++; // the closing quote
    return value;
  };

  while (pos < header.length) {
    while (pos < header.length && /[\s,]/.test(header[pos]!)) pos++;
    const scheme = readToken();
    if (scheme.length === 0) {
      pos++; // not a token: skip the character so that garbage cannot stall the loop
      continue;
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      const save = pos;
      while (pos < header.length && /[\s,]/.test(header[pos]!)) pos++;
      const name = readToken();
      skipSpace();
      if (name.length === 0 || header[pos] !== "=") {
        pos = save; // the next challenge's scheme, or the end
        break;
      }
      pos++;
      skipSpace();
      challenge.params[name.toLowerCase()] = readValue();
    }
  }
  return out;
}
