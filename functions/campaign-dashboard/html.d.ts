/** An HTML file imported `with { type: 'text' }`: esbuild gives its text. */
declare module '*.html' {
  const text: string;
  export default text;
}
