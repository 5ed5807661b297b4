// Issue 20: the replication and failover scenarios of replication-scenarios.ts on a secure
// cluster (`local up --secure`): failover and ISR behaviour do not change with security on.

import { replicationScenarios } from './replication-scenarios.ts';

replicationScenarios({ secure: true });
