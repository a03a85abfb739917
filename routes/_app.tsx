/**
 * The page shell around every page: head, stylesheets, navigation and the island bundle.
 *
 * @example
 * ```tsx
 * import App from "./_app.tsx";
 * export const page = (
 *   <App title="Runs">
 *     <p>hello</p>
 *   </App>
 * );
 * ```
 * @module
 */
import type { ComponentChildren } from "preact";

/** Props of {@linkcode App}. */
export interface AppProps {
  title: string;
  children: ComponentChildren;
}

/** The HTML document. */
export default function App({ title, children }: AppProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · resnet-cifar-deno`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/static/uplot.min.css" />
        <link rel="stylesheet" href="/static/style.css" />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">resnet-cifar-deno</a>
          <nav>
            <a href="/">runs</a>
            <a href="/compare">compare</a>
          </nav>
        </header>
        <main>{children}</main>
        <script type="module" src="/static/client.js"></script>
      </body>
    </html>
  );
}
