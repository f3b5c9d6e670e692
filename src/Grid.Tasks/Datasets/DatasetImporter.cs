using Grid.Tasks.Images;

namespace Grid.Tasks.Datasets;

/// <summary>
/// Converts a dataset in another layout (R1-V / open-r1-multimodal) into Grid's JSONL: each record is read and checked
/// as <see cref="DatasetReader"/> reads it, its image decoded by <see cref="PolicyImage"/>'s rule (alpha on white, RGB,
/// size kept) and written once as PNG into a new "STEM-images" folder next to the output, and the record written with
/// its answer kind stated. Streams: one record and one image in memory at a time. Nothing existing is overwritten:
/// the output file and its image folder must not exist, and the JSONL appears under its name only when complete.
/// </summary>
public static class DatasetImporter
{

    /// <summary>The folder the images of <paramref name="outputJsonl"/> go to: "STEM-images" beside it.</summary>
    public static string ImageFolderOf(string outputJsonl) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outputJsonl))!, Path.GetFileNameWithoutExtension(outputJsonl) + "-images");

    /// <returns>The number of records written.</returns>
    /// <exception cref="DatasetFormatException">A record of the input is refused (file, line, problem, fix).</exception>
    /// <exception cref="IOException">The output file or its image folder already exists.</exception>
    public static int Import(string inputJsonl, string outputJsonl, DatasetReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(inputJsonl);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputJsonl);
        options = (options ?? DatasetReadOptions.Default) with { ImageSize = null };
        string output = Path.GetFullPath(outputJsonl);
        string images = ImageFolderOf(output);
        if (File.Exists(output) || Directory.Exists(output))
        {
            throw new IOException($"{output} already exists; importing never overwrites. Pick another output file or remove it.");
        }

        if (Directory.Exists(images) || File.Exists(images))
        {
            throw new IOException($"{images} already exists; importing writes its images there and never overwrites. "
                + "Pick another output name or remove that folder.");
        }

        var entries = DatasetReader.ReadEntries(inputJsonl, options); // checks the input exists before anything is created
        Directory.CreateDirectory(images);
        string partial = output + ".partial";
        var pngOfSource = new Dictionary<string, string>(StringComparer.Ordinal);
        int count = 0;
        try
        {
            using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                foreach (var entry in entries)
                {
                    var example = entry.Example;
                    if (!pngOfSource.TryGetValue(entry.ImageFile, out string? png))
                    {
                        png = $"{Path.GetFileName(images)}/{pngOfSource.Count:D8}.png";
                        File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(output)!, png), PngCodec.Encode(example.Image));
                        pngOfSource[entry.ImageFile] = png;
                    }

                    DatasetWriter.WriteRecord(file, example, png, withAnswerRule: true);
                    count++;
                }
            }

            File.Move(partial, output);
            return count;
        }
        catch
        {
            File.Delete(partial);
            Directory.Delete(images, recursive: true);
            throw;
        }
    }
}
