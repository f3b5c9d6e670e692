using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Grid.Core.Files;

namespace Grid.Tasks.Datasets;

/// <summary>
/// Splits a dataset that has no eval file into train and eval, deterministically: an example goes to eval when the
/// first 8 bytes of sha256("grid-split" LF seed LF id), read as a big-endian unsigned integer and divided by 2^64, are
/// below the eval fraction. Only the id and the seed decide, so the split does not depend on the order or number of
/// records, and since ids are unique within a dataset, train and eval never share one.
/// </summary>
public static class DatasetSplit
{
    /// <summary>Whether the example with <paramref name="id"/> belongs to the eval part.</summary>
    public static bool IsEval(string id, long seed, double evalFraction)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!(evalFraction is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(evalFraction), evalFraction, "The eval fraction must be in [0, 1], e.g. 0.1.");
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"grid-split\n{seed}\n{id}"), hash);
        double position = BinaryPrimitives.ReadUInt64BigEndian(hash) / 18446744073709551616.0;
        return position < evalFraction;
    }

    /// <summary>The examples of the train part, in their order, streamed.</summary>
    public static IEnumerable<TaskExample> Train(IEnumerable<TaskExample> examples, long seed, double evalFraction)
    {
        ArgumentNullException.ThrowIfNull(examples);
        return examples.Where(e => !IsEval(e.Id, seed, evalFraction));
    }

    /// <summary>The examples of the eval part, in their order, streamed.</summary>
    public static IEnumerable<TaskExample> Eval(IEnumerable<TaskExample> examples, long seed, double evalFraction)
    {
        ArgumentNullException.ThrowIfNull(examples);
        return examples.Where(e => IsEval(e.Id, seed, evalFraction));
    }
}

/// <summary>One file a run used: its full path, lower-case hex sha256 and size.</summary>
public sealed record DatasetFileDigest(string Path, string Sha256, long Bytes);

/// <summary>The files a dataset consists of, with their sha256, for a run folder to record (and a store to address).</summary>
public static class DatasetFiles
{
    /// <summary>
    /// The JSONL file and then every distinct image file its records use (in order of first use), each with its sha256.
    /// Reads the dataset as <see cref="DatasetReader.ReadEntries"/> does, so a bad record is refused the same way.
    /// </summary>
    public static IReadOnlyList<DatasetFileDigest> Digest(string jsonlPath, DatasetReadOptions? options = null)
    {
        var files = new List<DatasetFileDigest> { Of(Path.GetFullPath(jsonlPath)) };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in DatasetReader.ReadEntries(jsonlPath, options))
        {
            if (seen.Add(entry.ImageFile))
            {
                files.Add(Of(entry.ImageFile));
            }
        }

        return files;
    }

    /// <summary>The digest of one file.</summary>
    public static DatasetFileDigest Of(string path)
    {
        string full = Path.GetFullPath(path);
        if (InputFile.Refusal(full) is { } why)
        {
            throw new InvalidDataException($"The dataset file {full} is {why}. Pass a regular JSONL or image file.");
        }

        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return new DatasetFileDigest(full, Convert.ToHexStringLower(SHA256.HashData(stream)), stream.Length);
    }
}
