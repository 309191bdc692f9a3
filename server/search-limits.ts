/** Limits of a search: the query's length (characters), k, and the metadata filter's fields. */
export const SEARCH_LIMITS = { maxQueryChars: 2000, maxK: 100, defaultK: 10, maxMetadataFields: 16, maxValueChars: 1000 } as const;
