// Pretrained word vectors: the word2vec text and binary formats (the original C tool's and
// gensim's), fastText .vec files (word2vec text) and GloVe text files, read into a Vocabulary and
// an Embedding, and written back.
//
//   word2vec text    "V D\n", then V lines "word v1 ... vD\n" (the C tool and fastText leave a
//                    space before the '\n')
//   word2vec binary  "V D\n", then V records "word " + D little-endian float32; the C tool writes
//                    '\n' after each record, gensim does not
//   GloVe            lines "word v1 ... vD\n", no header; D is read from the first line
//
// In text files a word ends at the first space or tab. A few files have words that contain spaces
// (glove.840B.300d: ". . .", "at name@domain.com"): with options.wordsWithSpaces a line's last D
// fields are its vector and everything before them its word.
//
// Readers stream the file in chunks into the one Float32Array the Embedding adopts: text at
// hundreds of MB/s by scanning the bytes (no split or parseFloat per field), binary records
// copied straight into the table. They validate everything before they allocate or trust it; a
// malformed file gets a FileFormatError naming the file and the line (text) or record and byte
// offset (binary).
//
// Text values are rounded to the float32 nearest to the decimal, as C's strtof does, and written
// as the shortest decimal that reads back as the same float32, so text round trips are exact.
//
// The modules under word-vectors/, each one part of the work:
//   types.ts          the public option and result types
//   settings.ts       the chunk size, the limits a valid file stays within, the loaders' options
//   float-text.ts     decimal <-> float32, exactly (reading as strtof does, writing the shortest)
//   table-builder.ts  the table being filled, and what the parsers share
//   text.ts           the text parser ("word v1 ... vD" lines)
//   header.ts         the word2vec header line
//   word2vec.ts       text or binary, the binary parser, loadWord2Vec, loadFastText
//   glove.ts          GloVe's survey pass and loadGloVe
//   writers.ts        saveWord2Vec and saveGloVe
export * from './word-vectors/types.js'; // interfaces only
export { readSettings } from './word-vectors/settings.js';
export { decimalToFloat32, formatFloat32 } from './word-vectors/float-text.js';
export { isWord2VecBinary, loadFastText, loadWord2Vec } from './word-vectors/word2vec.js';
export { countWordVectors, loadGloVe } from './word-vectors/glove.js';
export { saveGloVe, saveWord2Vec } from './word-vectors/writers.js';
export { WordVectors } from './word-vectors/keyed.js';
export type { MostSimilarWordsOptions, WordQuery, WordScore } from './word-vectors/keyed.js';
