/**
 * Recording Proxies: which properties of a config object a component really reads.
 *
 * `record(target, log)` returns a read-only view of `target` that notes every string key looked
 * up with `get`, `has` (`'x' in config`) or `getOwnPropertyDescriptor` (`Object.hasOwn`), whether
 * or not the key is present. Enumerating the object (`{...config}`, `Object.keys`) is noted as
 * `enumerated`: the copy escapes the record, and every present key reaches the component.
 *
 * Not noted: symbols, and the object protocol (`then` looked up by `await`, `toJSON` by
 * `JSON.stringify`, `constructor`, `toString`… of `Object.prototype`) unless the target holds
 * such a key as its own option.
 *
 * Values are returned as they are (not wrapped): reading `lineGroupers` reads that option whole.
 */
export interface ReadLog {
  /** Keys looked up. */
  keys: Set<string>;
  /** The object was enumerated (spread, `Object.keys`, `for…in`, `JSON.stringify`). */
  enumerated: boolean;
}

export function createReadLog(): ReadLog {
  return { keys: new Set(), enumerated: false };
}

const PROTOCOL = new Set(['then', 'toJSON', 'inspect', 'asymmetricMatch', '$$typeof', 'nodeType', 'tagName']);

function noted(target: object, key: string | symbol): key is string {
  if (typeof key !== 'string') return false;
  if (Object.prototype.hasOwnProperty.call(target, key)) return true;
  return !(PROTOCOL.has(key) || key in Object.prototype);
}

export function record<T extends object>(target: T, log: ReadLog): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      if (noted(t, key)) log.keys.add(key);
      return Reflect.get(t, key, receiver);
    },
    has(t, key) {
      if (noted(t, key)) log.keys.add(key);
      return Reflect.has(t, key);
    },
    getOwnPropertyDescriptor(t, key) {
      if (noted(t, key)) log.keys.add(key);
      return Reflect.getOwnPropertyDescriptor(t, key);
    },
    ownKeys(t) {
      log.enumerated = true;
      return Reflect.ownKeys(t);
    },
    set() {
      throw new TypeError('a component must not change its config (it is read-only)');
    },
    deleteProperty() {
      throw new TypeError('a component must not change its config (it is read-only)');
    },
    defineProperty() {
      throw new TypeError('a component must not change its config (it is read-only)');
    },
  });
}
