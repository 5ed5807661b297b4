// Issue 20: the replication and failover scenarios of replication-scenarios.ts on a secure
// cluster (`local up --secure`): failover and ISR behaviour do not change with security on.
// Seven of the ten by default (see `scenario` there); TRIBUTARY_E2E_SECURE_ALL=1 runs all ten.

import { replicationScenarios } from './replication-scenarios.ts';

replicationScenarios({ secure: true });
