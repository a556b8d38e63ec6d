/**
 * Loads into a kernel from the editor: load an object into the selected (or named) target with
 * progress notifications, unload it, list what is loaded. Diagnostics follow each change (a
 * rejected program is reported on its source line). Load on All Targets (bpfLens/loadMatrix)
 * loads one object on every target at once, each unloaded at once.
 */
import {
  LoadedObjectsRequest,
  LoadMatrixRequest,
  LoadObjectRequest,
  LoadProgressNotification,
  MapDeleteRequest,
  MapElementsRequest,
  MapUpdateRequest,
  UnloadObjectRequest,
} from '../../../protocol/lsp';
import { handler, type RequestHandler } from './handlers';
import type { Session } from './session';

export function loadRequests(d: Session): RequestHandler[] {
  const { loads, connection } = d;
  return [
    handler(LoadObjectRequest, async (p) => {
      await d.whenReady();
      const progress = (stage: string, detail: string) =>
        void connection.sendNotification(LoadProgressNotification, { token: p.token, stage, detail });
      const r = await loads.load(p, progress, (name) => d.index.resolveSource(p.path, name));
      d.log(
        `load ${p.path}: ${r.ok ? `${r.loaded!.programs.length} programs, ${r.loaded!.maps.length} maps` : r.error!.message} (${r.ms.toFixed(0)} ms)`,
      );
      await d.publishAll();
      return r;
    }),
    handler(UnloadObjectRequest, async (p) => {
      const r = await loads.unload(p.handle);
      await d.publishAll();
      return r;
    }),
    handler(LoadedObjectsRequest, () => ({ loaded: loads.all() })),
    handler(MapElementsRequest, (p) => loads.mapElements(p)),
    handler(LoadMatrixRequest, async (p) => {
      await d.whenReady();
      // loaded when first used: it brings the fan-out and the remote agent's client
      const { loadMatrix } = await import('./load-matrix');
      return loadMatrix(d, p.path, p.token);
    }),
    handler(MapUpdateRequest, (p) => loads.mapUpdate(p)),
    handler(MapDeleteRequest, (p) => loads.mapDelete(p)),
  ];
}
