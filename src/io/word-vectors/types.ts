// The public types of the word-vector loaders and writers.
import type { ProgressCallback } from '../common.js';

export interface LoadWordVectorsOptions {
  /**
   * Keep only the first `limit` words of the file: only their rows are allocated, and the rest
   * of the file is not read (a word2vec header's count is still checked against the file size).
   */
  limit?: number;
  /**
   * Called after each chunk read with the bytes read so far, and once at the end with bytes ===
   * totalBytes (also when `limit` ended the read early). GloVe reports its parsing pass (the
   * line-counting pass before it takes a fraction of the time).
   */
  onProgress?: ProgressCallback;
  /**
   * A reserved unknown-word entry (see Vocabulary): when the file does not contain this token it
   * gets a zero row, inserted before the file's words (after a reserved padding row).
   */
  unknown?: string;
  /**
   * A reserved padding entry (see Vocabulary), inserted with a zero row at index 0 when the file
   * does not contain it; either way its index is the embedding's paddingIdx.
   */
  padding?: string;
  /**
   * Text files: words may contain spaces (and tabs), as a few in glove.840B.300d do (". . .",
   * "at name@domain.com"). A line with more than D values then takes its last D fields as the
   * vector and everything before them as the word, the bytes as written (the separator before the
   * first value dropped). D still comes from the header, or for GloVe from the first line, whose
   * word must therefore contain no space. Lines with fewer than D values remain errors. Default
   * false: such a line is an error whose message suggests this option. Not for word2vec binary
   * (a binary word ends at its first space): a file read as binary with this option is refused
   * with a RangeError.
   */
  wordsWithSpaces?: boolean;
  /** Options of the Embedding built over the vectors; freeze defaults to true, as in fromPretrained. */
  freeze?: boolean;
  sparse?: boolean;
  maxNorm?: number | null;
  normType?: number;
  scaleGradByFreq?: boolean;
}

export interface LoadWord2VecOptions extends LoadWordVectorsOptions {
  /**
   * Whether the file is in the binary format. By default: binary when the file name ends in
   * .bin, text when it ends in .txt or .vec, otherwise text if the line after the header is a word
   * followed by D numbers, else binary. Errors say which was chosen and why.
   */
  binary?: boolean;
}

/** What the writers read: an Embedding, or any row-major table of that shape. */
export interface WordVectorTable {
  readonly weight: Float32Array;
  readonly embeddingDim: number;
  readonly numEmbeddings: number;
}

export interface SaveWordVectorsOptions {
  /**
   * Called after each block of rows written, and once at the end with bytes === totalBytes.
   * Binary files know their size in advance; for text, totalBytes is extrapolated from the rows
   * written so far until the final call.
   */
  onProgress?: ProgressCallback;
}

export interface SaveWord2VecOptions extends SaveWordVectorsOptions {
  /** The binary format (the C tool's layout: "word " + float32s + '\n'). Default: the file name ends in .bin. */
  binary?: boolean;
}
