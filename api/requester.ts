/** Who is asking, from the `x-mloop-user` header; anything missing or odd-looking is "anonymous". */
export function requester(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[A-Za-z0-9@._-]{1,128}$/.test(value) ? value : 'anonymous';
}
