// kind: Secret (v1): data (base64 in `data`, text in `stringData`) for env and volumes.
import { dataObjectModule } from './configmap.js';

export const secretKind = dataObjectModule('Secret');
