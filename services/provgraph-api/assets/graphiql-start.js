// Starts the vendored GraphiQL on #graphiql against this server's /graphql
// (same origin; a read token goes in the Headers tab as
// {"Authorization": "Bearer TOKEN"}).
"use strict";
(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + "/graphql" });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery:
        "# Try lineage, audit, impact, vulnerability.\n" +
        "{\n  workloads(first: 5) {\n    nodes { key lastSeen artifacts { digest } }\n  }\n}\n",
    })
  );
})();
