/**
 * The requests about the workspace's objects: list them (a line each, or whole summaries of one
 * or all with externs resolved across them), re-index, page through an object's BTF types,
 * link objects, distill a module's base.
 */
import {
  BtfTypesRequest,
  DistillRequest,
  LinkObjectsRequest,
  type ObjectEntry,
  ObjectListRequest,
  type ObjectSummary,
  type ObjectsParams,
  ObjectsRequest,
  ReindexRequest,
} from '../../../protocol/lsp';
import { distillRequest } from './distill';
import { handler, type RequestHandler } from './handlers';
import { linkObjectsRequest, withResolvedExterns } from './link-objects';
import type { Session } from './session';

export function objectRequests(d: Session): RequestHandler[] {
  return [
    handler(ObjectListRequest, async () => {
      await d.whenReady();
      return { objects: d.index.all().map((o) => entryOf(o.summary)) };
    }),
    handler(ObjectsRequest, (p) => objects(d, p)),
    handler(ReindexRequest, async () => {
      await d.startReindex();
      return { objects: d.index.all().map((o) => o.summary) };
    }),
    handler(BtfTypesRequest, async (p) => {
      await d.whenReady();
      const o = await d.index.open(p.path);
      const cat = o.catalog();
      if (!cat) throw new Error(o.error ?? `${p.path} has no BTF`);
      return cat.page(p);
    }),
    handler(LinkObjectsRequest, (p) => linkObjectsRequest(p)),
    handler(DistillRequest, (p) => distillRequest(p)),
  ];
}

async function objects(d: Session, p: ObjectsParams | undefined) {
  await d.whenReady();
  const summaries = () => d.index.all().map((o) => o.summary);
  if (p?.path) return { objects: withResolvedExterns([(await d.index.open(p.path)).summary], summaries()) };
  return { objects: withResolvedExterns(summaries()) };
}

function entryOf(s: ObjectSummary): ObjectEntry {
  return {
    path: s.path,
    name: s.name,
    size: s.size,
    mtimeMs: s.mtimeMs,
    ...(s.error !== undefined ? { error: s.error } : {}),
    ...(s.module ? { module: s.module } : {}),
    programCount: s.programs.length,
    mapCount: s.maps.length,
  };
}
