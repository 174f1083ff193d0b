/**
 * The local UI's modules, in the order the page mounts them (see module.ts). Adding one is one
 * line here, plus its import: its factory, whose `name` is also its `/api/<name>/` and
 * `static/<name>.js`. (The placeholder comments keep each module's lines apart, so that the
 * branches adding them merge without a conflict: replace yours.)
 */
import { imModule } from "./im.ts";
import type { UiModuleFactory } from "./module.ts";
import { confirmModule } from "./confirm.ts";
import { shareModule } from "./share/index.ts";

export const UI_MODULES: readonly UiModuleFactory[] = [
  imModule,
  shareModule,
  confirmModule,
];
