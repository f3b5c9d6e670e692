using System.Security.Cryptography;
using Grid.Core.Files;
using Grid.Tasks.Images;
using Grid.Tasks.Rewards;

namespace Grid.Tasks.Datasets;

/// <summary>An image file a dataset's records use, as it was when the dataset was read and checked.</summary>
/// <param name="Path">The full path.</param>
/// <param name="Bytes">Its size then.</param>
/// <param name="Sha256">Its sha256 then (lowercase hex, as data.json records it).</param>
public sealed record DatasetImageFile(string Path, long Bytes, string Sha256);

/// <summary>
/// One record of a loaded dataset without its pixels: what a <see cref="TaskExample"/> holds but the image, which is
/// named by its file and decoded when the example is drawn (<see cref="DatasetImageCache"/>).
/// </summary>
/// <param name="Line">The record's 1-based line in <paramref name="Jsonl"/>, for messages.</param>
public sealed record DatasetExample(string Id, string Task, string Question, string Answer, string Reasoning,
    AnswerRule AnswerRule, DatasetImageFile Image, string Jsonl, int Line);

/// <summary>
/// The decoded images of a loaded dataset, at most <see cref="Capacity"/> of them, the least recently drawn dropped
/// first: a dataset of any size is held as its records' text and image paths, and only the images in use are in
/// memory. Safe for concurrent readers (rollouts, SFT and evaluation). An image is decoded exactly as
/// <see cref="DatasetReader"/> decoded it at load (<see cref="PolicyImage"/>'s rule, the same size and pixel limit), so
/// the pixels are the same; before decoding, the file is compared with its size and sha256 at load, and a file changed
/// since is refused, naming it, rather than trained on.
/// </summary>
public sealed class DatasetImageCache
{
    /// <summary>Decoded images kept by default: 512 task images of 48x48 are 3.5 MB.</summary>
    public const int DefaultCapacity = 512;

    private readonly int? _imageSize;
    private readonly long _maxPixels;
    private readonly Dictionary<string, LinkedListNode<(string Path, RgbImage Image)>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Path, RgbImage Image)> _recent = new();
    private readonly Lock _gate = new();
    private long _decodes;

    /// <summary>A cache decoding as <paramref name="options"/> reads (image size, pixel limit).</summary>
    public DatasetImageCache(DatasetReadOptions options, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _imageSize = options.ImageSize;
        _maxPixels = options.MaxPixels;
        Capacity = capacity;
    }

    /// <summary>The most decoded images held at once.</summary>
    public int Capacity { get; }

    /// <summary>Decoded images held now (at most <see cref="Capacity"/>).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Images decoded since the cache was made (each miss decodes once).</summary>
    public long Decodes => Interlocked.Read(ref _decodes);

    /// <summary>The image of <paramref name="example"/>, from the cache or decoded from its file.</summary>
    /// <exception cref="DatasetFormatException">The file is gone, unreadable, or changed since the dataset was read.</exception>
    public RgbImage Get(DatasetExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        string path = example.Image.Path;
        lock (_gate)
        {
            if (_entries.TryGetValue(path, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return node.Value.Image;
            }
        }

        var image = Decode(example); // outside the lock: two readers of one image may both decode it, with equal pixels
        Interlocked.Increment(ref _decodes);
        lock (_gate)
        {
            if (_entries.TryGetValue(path, out var node))
            {
                return node.Value.Image;
            }

            _entries[path] = _recent.AddFirst((path, image));
            while (_entries.Count > Capacity)
            {
                _entries.Remove(_recent.Last!.Value.Path);
                _recent.RemoveLast();
            }
        }

        return image;
    }

    private RgbImage Decode(DatasetExample example)
    {
        var file = example.Image;
        string fix = "Put the original file back, or start the run again so that it reads and records the dataset as it is now.";
        byte[] bytes;
        if (InputFile.Refusal(file.Path) is { } why)
        {
            throw Changed(example, $"it is now {why}. {fix}");
        }

        try
        {
            using var stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length != file.Bytes)
            {
                throw Changed(example, $"it has {stream.Length} bytes, not the {file.Bytes} it had when the dataset was read. {fix}");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw Changed(example, $"it cannot be read any more ({error.Message}). {fix}", error);
        }

        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (sha != file.Sha256)
        {
            throw Changed(example, $"its sha256 is {sha}, not the {file.Sha256} it had when the dataset was read. {fix}");
        }

        try
        {
            return PolicyImage.Decode(bytes, _imageSize, _maxPixels);
        }
        catch (InvalidDataException error)
        {
            throw Changed(example, $"it no longer decodes ({error.Message}). {fix}", error);
        }
    }

    private static DatasetFormatException Changed(DatasetExample example, string reason, Exception? inner = null) =>
        new(example.Jsonl, example.Line, $"image {example.Image.Path} of record \"{example.Id}\" changed after the dataset "
            + $"was read: {reason}", inner);
}

/// <summary>
/// A dataset's records seen as <see cref="TaskExample"/>s: the indexer builds the example of a record with its image
/// from a <see cref="DatasetImageCache"/>, so the list holds no pixels of its own.
/// </summary>
public sealed class DatasetExampleList : IReadOnlyList<TaskExample>
{
    public DatasetExampleList(IReadOnlyList<DatasetExample> records, DatasetImageCache images)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(images);
        Records = records;
        Images = images;
    }

    /// <summary>The records, without pixels, in file order.</summary>
    public IReadOnlyList<DatasetExample> Records { get; }

    /// <summary>Where the records' images are decoded and held.</summary>
    public DatasetImageCache Images { get; }

    public int Count => Records.Count;

    public TaskExample this[int index]
    {
        get
        {
            var record = Records[index];
            return new TaskExample(record.Id, record.Task, record.Question, record.Answer, Images.Get(record), record.Reasoning)
            {
                AnswerRule = record.AnswerRule,
            };
        }
    }

    public IEnumerator<TaskExample> GetEnumerator()
    {
        for (int i = 0; i < Records.Count; i++)
        {
            yield return this[i];
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
