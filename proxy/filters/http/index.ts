// The list of built-in HTTP filters: importing this module registers each of them (one import per
// filter folder, whose index.ts calls registerHttpFilter). Adding a filter = one folder + one line here.

import './fault/index.ts';
import './istio-stats/index.ts';
import './local-ratelimit/index.ts';
import './peer-metadata/index.ts';
import './rbac/index.ts';
import './router/index.ts';
