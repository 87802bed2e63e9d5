// /api/docs: Swagger UI (vendored, see README) on the served OpenAPI document. A token given as
// #token=... (or kept from another page of this tab) is filled into "Authorize".

import { takeToken } from "./common.js";

const root = document.getElementById("swagger-ui");
const token = takeToken();
// The bundle is a classic script (it defines window.SwaggerUIBundle); `defer` runs it before
// this module.
const ui = window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null,
  tryItOutEnabled: false,
  onComplete: () => token && ui.preauthorizeApiKey("bearerAuth", token),
});
