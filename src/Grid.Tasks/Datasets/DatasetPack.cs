using System.Formats.Tar;
using System.Security.Cryptography;

namespace Grid.Tasks.Datasets;

/// <summary>
/// One dataset file and every image its records use, as one tar archive: how <c>grid submit</c> ships a dataset through
/// the cluster's store and how a silo unpacks it into its cache. The archive holds the JSONL under its own file name
/// (an R1-V record's default id comes from it) and then each distinct image, in order of first use, at its path
/// relative to the JSONL's folder. Entries carry no time, owner or mode of the client's files, so the same dataset
/// always packs to the same bytes and the same sha256: the archive's sha256 names the dataset.
/// </summary>
public static class DatasetPack
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.UnixEpoch;

    /// <summary>
    /// Packs <paramref name="jsonlPath"/> and its images into <paramref name="output"/>, reading the dataset as training
    /// does (a bad record is refused the same way); returns the archive's sha256 (lowercase hex) and size.
    /// </summary>
    public static (string Sha256, long Bytes) Write(string jsonlPath, DatasetReadOptions? options, Stream output)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jsonlPath);
        ArgumentNullException.ThrowIfNull(output);
        string full = Path.GetFullPath(jsonlPath);
        string folder = Path.GetDirectoryName(full)!;
        var images = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in DatasetReader.ReadEntries(full, options))
        {
            if (seen.Add(entry.ImageFile))
            {
                images.Add(entry.ImageFile);
            }
        }

        using var hashing = new HashingWriteStream(output);
        using (var tar = new TarWriter(hashing, TarEntryFormat.Gnu, leaveOpen: true))
        {
            Add(tar, full, Path.GetFileName(full));
            foreach (string image in images)
            {
                Add(tar, image, Path.GetRelativePath(folder, image).Replace('\\', '/'));
            }
        }

        return (hashing.FinishSha256(), hashing.BytesWritten);
    }

    /// <summary>
    /// Unpacks an archive written by <see cref="Write"/> into the empty folder <paramref name="folder"/> and returns the
    /// JSONL's path there. Only plain files at relative paths inside the folder are accepted; anything else is refused
    /// with <see cref="InvalidDataException"/>.
    /// </summary>
    public static string Unpack(Stream archive, string folder)
    {
        ArgumentNullException.ThrowIfNull(archive);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        string root = Path.GetFullPath(folder);
        Directory.CreateDirectory(root);
        string? jsonl = null;
        using var tar = new TarReader(archive, leaveOpen: true);
        while (tar.GetNextEntry() is { } entry)
        {
            string name = entry.Name;
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
            {
                throw new InvalidDataException($"The dataset archive holds \"{name}\" of type {entry.EntryType}; only files are packed.");
            }

            if (name.Length == 0 || name.Contains('\\', StringComparison.Ordinal) || Path.IsPathRooted(name)
                || name.Split('/').Any(part => part is "" or "." or ".."))
            {
                throw new InvalidDataException($"The dataset archive holds the path \"{name}\", which is not a plain relative path.");
            }

            string target = Path.GetFullPath(Path.Combine(root, name));
            if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"The dataset archive's path \"{name}\" leads outside its folder.");
            }

            if (File.Exists(target))
            {
                throw new InvalidDataException($"The dataset archive holds \"{name}\" twice.");
            }

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using (var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
            {
                entry.DataStream?.CopyTo(file);
            }

            jsonl ??= target; // the first entry is the dataset file
        }

        return jsonl ?? throw new InvalidDataException("The dataset archive is empty.");
    }

    private static void Add(TarWriter tar, string path, string name)
    {
        using var content = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var entry = new GnuTarEntry(TarEntryType.RegularFile, name)
        {
            ModificationTime = Epoch,
            AccessTime = Epoch,
            ChangeTime = Epoch,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            Uid = 0,
            Gid = 0,
            UserName = "",
            GroupName = "",
            DataStream = content,
        };
        tar.WriteEntry(entry);
    }

    /// <summary>Write-only pass-through stream that hashes (sha256) and counts what it writes.</summary>
    private sealed class HashingWriteStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long BytesWritten { get; private set; }

        public string FinishSha256() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => BytesWritten;

        public override long Position
        {
            get => BytesWritten;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            BytesWritten += buffer.Length;
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
