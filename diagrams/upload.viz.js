// The upload machine for the Stately visualizer (https://stately.ai/viz) and Studio's "Import from code":
// paste this file as it is. Generated from machines/upload.ts by `npm run diagrams`; do not edit.
// Guards, actions, actors and delays are named references. Their implementations here are stand-ins
// (guards false, actions do nothing, services never settle, computed delays 1 second); the real ones
// are in machines/upload.ts and the services the runtime is given.
import { createMachine, fromPromise } from 'xstate';

export const machine = createMachine(
  {
    "id": "upload",
    "initial": "queued",
    "on": {
      "CANCEL": ".canceled"
    },
    "states": {
      "queued": {
        "invoke": {
          "src": "validateUpload",
          "onDone": {
            "target": "job_validated",
            "actions": {
              "type": "assignMediaType"
            }
          },
          "onError": {
            "target": "#upload.failed",
            "actions": {
              "type": "recordError"
            }
          }
        }
      },
      "job_validated": {
        "invoke": {
          "src": "submitParse",
          "onDone": [
            {
              "guard": {
                "type": "parsedAtOnce"
              },
              "target": "parsed",
              "actions": {
                "type": "assignParseAndWarnings"
              }
            },
            {
              "target": "parsing",
              "actions": {
                "type": "assignParse"
              }
            }
          ],
          "onError": {
            "target": "#upload.failed",
            "actions": {
              "type": "recordError"
            }
          }
        }
      },
      "parsing": {
        "initial": "waiting",
        "after": {
          "parseTimeout": {
            "target": "failed",
            "actions": {
              "type": "assignError"
            }
          }
        },
        "on": {
          "PARSE_CALLBACK": {
            "target": ".checking"
          }
        },
        "states": {
          "waiting": {
            "after": {
              "pollDelay": "checking"
            }
          },
          "checking": {
            "invoke": {
              "src": "pollParse",
              "onDone": [
                {
                  "guard": {
                    "type": "parseDone"
                  },
                  "target": "#upload.parsed",
                  "actions": {
                    "type": "assignContext"
                  }
                },
                {
                  "target": "waiting",
                  "actions": {
                    "type": "assignParse"
                  }
                }
              ],
              "onError": {
                "target": "#upload.failed",
                "actions": {
                  "type": "recordError"
                }
              }
            }
          }
        }
      },
      "parsed": {
        "after": {
          "0": "chunking"
        }
      },
      "chunking": {
        "invoke": {
          "src": "chunkDocument",
          "onDone": {
            "target": "chunked",
            "actions": {
              "type": "assignChunksAndWarnings"
            }
          },
          "onError": {
            "target": "#upload.failed",
            "actions": {
              "type": "recordError"
            }
          }
        }
      },
      "chunked": {
        "after": {
          "0": [
            {
              "guard": {
                "type": "noChunks"
              },
              "target": "embedded"
            },
            {
              "target": "embedding"
            }
          ]
        }
      },
      "embedding": {
        "invoke": {
          "src": "embedBatch",
          "onDone": [
            {
              "guard": {
                "type": "moreToEmbed"
              },
              "target": "embedding",
              "reenter": true,
              "actions": {
                "type": "assignEmbedded"
              }
            },
            {
              "target": "embedded",
              "actions": {
                "type": "assignEmbedded"
              }
            }
          ],
          "onError": {
            "target": "#upload.failed",
            "actions": {
              "type": "recordError"
            }
          }
        }
      },
      "embedded": {
        "after": {
          "0": "complete"
        }
      },
      "complete": {
        "type": "final",
        "entry": {
          "type": "enqueueActions"
        }
      },
      "failed": {
        "entry": {
          "type": "enqueueActions"
        },
        "on": {
          "RETRY": [
            {
              "guard": {
                "type": "failedValidating"
              },
              "target": "queued",
              "actions": {
                "type": "clearError"
              }
            },
            {
              "guard": {
                "type": "failedParsing"
              },
              "target": "job_validated",
              "actions": [
                {
                  "type": "clearError"
                },
                {
                  "type": "resetParse"
                }
              ]
            },
            {
              "guard": {
                "type": "failedChunking"
              },
              "target": "chunking",
              "actions": {
                "type": "clearError"
              }
            },
            {
              "guard": {
                "type": "failedEmbedding"
              },
              "target": "embedding",
              "actions": {
                "type": "clearError"
              }
            }
          ]
        }
      },
      "canceled": {
        "type": "final",
        "entry": {
          "type": "enqueueActions"
        }
      }
    }
  },
  {
    actions: {
      assignChunksAndWarnings: () => {},
      assignContext: () => {},
      assignEmbedded: () => {},
      assignError: () => {},
      assignMediaType: () => {},
      assignParse: () => {},
      assignParseAndWarnings: () => {},
      clearError: () => {},
      enqueueActions: () => {},
      recordError: () => {},
      resetParse: () => {},
    },
    guards: {
      failedChunking: () => false,
      failedEmbedding: () => false,
      failedParsing: () => false,
      failedValidating: () => false,
      moreToEmbed: () => false,
      noChunks: () => false,
      parseDone: () => false,
      parsedAtOnce: () => false,
    },
    actors: {
      chunkDocument: fromPromise(() => new Promise(() => {})),
      embedBatch: fromPromise(() => new Promise(() => {})),
      pollParse: fromPromise(() => new Promise(() => {})),
      submitParse: fromPromise(() => new Promise(() => {})),
      validateUpload: fromPromise(() => new Promise(() => {})),
    },
    delays: {
      parseTimeout: 1800000,
      pollDelay: 1000,
    },
  },
);
