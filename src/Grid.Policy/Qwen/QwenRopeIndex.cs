namespace Grid.Policy.Qwen;

/// <summary>
/// transformers' get_rope_index for one sequence: the 3 x L multimodal positions (temporal, height, width) and the
/// rope delta. Text runs on all three axes alike; an image's merged tokens sit at (t, row, column) offset by the
/// position after the text before it; text after an image continues from the largest position so far + 1. Padding
/// (attention mask 0) is skipped and given position 1, and the delta (max position + 1 - L) counts the padded
/// length, so decode step s after a prompt of L slots sits at L + s + delta.
/// </summary>
public static class QwenRopeIndex
{
    /// <param name="imageGrids">Each image's (t, h, w) in patches, in the order the images appear; empty for text only.</param>
    /// <param name="attentionMask">False for padding, or null when there is none.</param>
    public static (long[][] Positions, long Delta) Compute(QwenVLConfig config, IReadOnlyList<int> inputIds,
        IReadOnlyList<(int T, int H, int W)> imageGrids, IReadOnlyList<bool>? attentionMask = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(imageGrids);
        int length = inputIds.Count;
        if (attentionMask is not null && attentionMask.Count != length)
        {
            throw new ArgumentException($"The attention mask has {attentionMask.Count} entries for {length} input ids.");
        }

        if (inputIds.Contains(config.VideoTokenId))
        {
            throw new NotSupportedException(
                $"The input holds video tokens (id {config.VideoTokenId}); videos are not supported, only images.");
        }

        var positions = new long[3][];
        for (int axis = 0; axis < 3; axis++)
        {
            positions[axis] = new long[length];
        }

        if (imageGrids.Count == 0)
        {
            return TextOnly(inputIds, attentionMask, positions);
        }

        var real = Enumerable.Range(0, length).Where(i => attentionMask?[i] ?? true).ToArray();
        var tokens = real.Select(i => inputIds[i]).ToArray();
        int images = 0;
        for (int i = 0; i + 1 < tokens.Length; i++)
        {
            if (tokens[i] == config.VisionStartTokenId && tokens[i + 1] == config.ImageTokenId)
            {
                images++;
            }
        }

        if (images != imageGrids.Count)
        {
            throw new ArgumentException(
                $"The input has {images} images (vision_start followed by image_token_id) but {imageGrids.Count} image grids were given.");
        }

        int merge = config.Vision.SpatialMergeSize;
        // Qwen2.5-VL scales the temporal index by seconds per frame, which is 0 for images.
        bool timeIndexed = config.Family == QwenVLFamily.Qwen2VL;
        var sequence = new List<(long T, long H, long W)>(tokens.Length);
        long next = 0; // the largest position so far + 1
        int start = 0;
        foreach (var (t, h, w) in imageGrids)
        {
            int imageAt = Array.IndexOf(tokens, config.ImageTokenId, start);
            for (int i = start; i < imageAt; i++)
            {
                long p = next + (i - start);
                sequence.Add((p, p, p));
            }

            long offset = next + (imageAt - start);
            int rows = h / merge, columns = w / merge;
            long largest = offset;
            for (int frame = 0; frame < t; frame++)
            {
                for (int r = 0; r < rows; r++)
                {
                    for (int c = 0; c < columns; c++)
                    {
                        long time = timeIndexed ? frame : 0;
                        sequence.Add((offset + time, offset + r, offset + c));
                        largest = Math.Max(largest, offset + Math.Max(time, Math.Max(r, c)));
                    }
                }
            }

            next = largest + 1;
            start = imageAt + (t * rows * columns);
        }

        for (int i = start; i < tokens.Length; i++)
        {
            long p = next + (i - start);
            sequence.Add((p, p, p));
        }

        if (sequence.Count != tokens.Length)
        {
            throw new ArgumentException(
                $"The image tokens do not match the grids: the grids cover {sequence.Count} positions, the input has {tokens.Length} real tokens.");
        }

        for (int axis = 0; axis < 3; axis++)
        {
            Array.Fill(positions[axis], 1L);
        }

        long max = long.MinValue;
        for (int j = 0; j < real.Length; j++)
        {
            var (pt, ph, pw) = sequence[j];
            positions[0][real[j]] = pt;
            positions[1][real[j]] = ph;
            positions[2][real[j]] = pw;
            max = Math.Max(max, Math.Max(pt, Math.Max(ph, pw)));
        }

        return (positions, real.Length == 0 ? -length : max + 1 - length);
    }

    /// <summary>The branch without images: positions count real tokens from 0; padding gets 1 (and counts for the max).</summary>
    private static (long[][] Positions, long Delta) TextOnly(IReadOnlyList<int> inputIds, IReadOnlyList<bool>? attentionMask,
        long[][] positions)
    {
        int length = inputIds.Count;
        if (attentionMask is null)
        {
            for (int axis = 0; axis < 3; axis++)
            {
                for (int i = 0; i < length; i++)
                {
                    positions[axis][i] = i;
                }
            }

            return (positions, 0);
        }

        long count = 0, max = long.MinValue;
        for (int i = 0; i < length; i++)
        {
            long p = attentionMask[i] ? count++ : 1;
            max = Math.Max(max, p);
            for (int axis = 0; axis < 3; axis++)
            {
                positions[axis][i] = p;
            }
        }

        return (positions, length == 0 ? 0 : max + 1 - length);
    }
}
