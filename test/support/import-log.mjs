// node --import ./import-log.mjs …: registers import-log-hooks.mjs in this process (and in each worker thread).
import {register} from 'node:module';

register('./import-log-hooks.mjs', import.meta.url);
