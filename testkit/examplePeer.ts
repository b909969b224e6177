/** The shape of a component-harness example peer (see testkit/examplePeers.ts); its own file so the peers' modules need not import the table. */
export type Own = Record<string, unknown>;

export interface ExamplePeer {
  /** The example pointed at the running server. */
  own(example: Own): Own;
  stop(): Promise<void>;
}

export interface PeerKind {
  /** Why the server cannot run here (undefined: it can). */
  missing(): string | undefined;
  start(dir: string): Promise<ExamplePeer>;
}
