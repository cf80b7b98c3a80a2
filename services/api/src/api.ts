/**
 * The application API's route table, one module per resource under `routes/`. The
 * router, the body validation and the OpenAPI document all read this one table; its
 * order is the document's order.
 */

import type { ApiDependencies } from "./routes/common.js";
import { deviceRoutes } from "./routes/devices.js";
import { eventRoutes } from "./routes/events.js";
import { functionRoutes } from "./routes/functions.js";
import { namedShadowRoutes } from "./routes/named-shadows.js";
import { productRoutes } from "./routes/products.js";
import { shadowRoutes } from "./routes/shadow.js";
import { twinRoutes } from "./routes/twin.js";
import type { Route } from "./routing.js";

/** Builds the API's routes over its dependencies. */
export const apiRoutes = (deps: ApiDependencies): Route[] => [
  ...productRoutes(deps),
  ...deviceRoutes(deps),
  ...shadowRoutes(deps),
  ...namedShadowRoutes(deps),
  ...eventRoutes(deps),
  ...twinRoutes(deps),
  ...functionRoutes(deps),
];
