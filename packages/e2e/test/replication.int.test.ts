// Issue 4: replication and failover on real processes, on a plaintext cluster (the scenarios:
// replication-scenarios.ts; the same on a secure cluster: replication-secure.int.test.ts).

import { replicationScenarios } from './replication-scenarios.ts';

replicationScenarios({ secure: false });
