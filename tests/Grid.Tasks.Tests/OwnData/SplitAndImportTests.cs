using System.Security.Cryptography;
using Grid.Tasks.Datasets;
using Grid.Tasks.Images;
using Grid.Tasks.Rewards;

namespace Grid.Tasks.Tests.OwnData;

/// <summary>Seeded id-hash splits, file digests, and R1-V import into Grid's JSONL.</summary>
public sealed class SplitAndImportTests
{
    [Fact]
    public void A_split_is_deterministic_disjoint_and_near_the_fraction()
    {
        var ids = Enumerable.Range(0, 10_000).Select(i => $"q{i}").ToList();

        var eval = ids.Where(id => DatasetSplit.IsEval(id, seed: 5, evalFraction: 0.1)).ToHashSet();
        var again = ids.Where(id => DatasetSplit.IsEval(id, seed: 5, evalFraction: 0.1)).ToHashSet();
        var otherSeed = ids.Where(id => DatasetSplit.IsEval(id, seed: 6, evalFraction: 0.1)).ToHashSet();

        Assert.Equal(eval, again);
        Assert.NotEqual(eval, otherSeed);
        Assert.InRange(eval.Count, 900, 1100);
        Assert.Empty(ids.Where(id => !DatasetSplit.IsEval(id, 5, 0.1)).Intersect(eval));
        // Order and membership of other ids do not matter: the same id lands on the same side.
        Assert.Equal(DatasetSplit.IsEval("q42", 5, 0.1), eval.Contains("q42"));
        Assert.DoesNotContain(ids, id => DatasetSplit.IsEval(id, 5, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplit.IsEval("a", 5, 1.5));
    }

    [Fact]
    public void Train_and_eval_parts_of_a_dataset_partition_it()
    {
        using var data = new OwnDataset(count: 40);
        var all = DatasetReader.Read(data.Jsonl).Select(e => e.Id).ToList();

        var train = DatasetSplit.Train(DatasetReader.Read(data.Jsonl), 3, 0.3).Select(e => e.Id).ToList();
        var eval = DatasetSplit.Eval(DatasetReader.Read(data.Jsonl), 3, 0.3).Select(e => e.Id).ToList();

        Assert.Empty(train.Intersect(eval));
        Assert.Equal(all.Order(), train.Concat(eval).Order());
        Assert.NotEmpty(eval);
    }

    [Fact]
    public void Digest_lists_the_jsonl_then_each_image_once_with_its_sha256()
    {
        using var data = new OwnDataset(count: 3);
        File.AppendAllLines(data.Jsonl, [OwnDataset.Record("img/000.png", "Again?", "<answer>0</answer>", new { id = "again" })]);

        var files = DatasetFiles.Digest(data.Jsonl);

        Assert.Equal([Path.GetFullPath(data.Jsonl), data.PathOf("img/000.png"), data.PathOf("img/001.png"), data.PathOf("img/002.png")],
            files.Select(f => f.Path));
        Assert.All(files, f => Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f.Path))), f.Sha256));
    }

    [Fact]
    public void Import_writes_grid_jsonl_that_reads_back_as_the_same_examples()
    {
        using var data = new OwnDataset(count: 5, colorTypeOf: i => new[] { 0, 2, 3, 4, 6 }[i]);
        File.AppendAllLines(data.Jsonl, [OwnDataset.Record("img/000.png", "Which?", "<answer>(c)</answer>", new { id = "mc", answer_kind = "choice" })]);
        string output = data.PathOf("out/grid.jsonl");
        Directory.CreateDirectory(data.PathOf("out"));

        int count = DatasetImporter.Import(data.Jsonl, output, new DatasetReadOptions(DefaultTask: "dots"));

        var source = DatasetReader.Read(data.Jsonl, new DatasetReadOptions(DefaultTask: "dots")).ToList();
        var imported = DatasetReader.Read(output).ToList();
        Assert.Equal(6, count);
        Assert.Equal(source, imported);
        Assert.Equal(AnswerRule.Choice, imported[^1].AnswerRule);
        Assert.Equal(5, Directory.GetFiles(DatasetImporter.ImageFolderOf(output)).Length); // the shared image written once
        Assert.Throws<IOException>(() => DatasetImporter.Import(data.Jsonl, output));
    }

    [Fact]
    public void A_failed_import_leaves_nothing_behind()
    {
        using var data = new OwnDataset(count: 2);
        File.AppendAllLines(data.Jsonl, [OwnDataset.Record("img/none.png", "?", "<answer>1</answer>")]);
        string output = data.PathOf("grid.jsonl");

        Assert.Throws<DatasetFormatException>(() => DatasetImporter.Import(data.Jsonl, output));

        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".partial"));
        Assert.False(Directory.Exists(DatasetImporter.ImageFolderOf(output)));
    }

    [Fact]
    public void Built_in_exports_still_read_pixel_for_pixel()
    {
        using var folder = new Datasets.TemporaryFolder();
        string path = folder.File("c.jsonl");
        var task = TaskCatalog.Get("counting");
        DatasetWriter.ExportGenerated(task, seed: 2, count: 5, path);

        var read = DatasetReader.Read(path, new DatasetReadOptions(ImageSize: task.ImageSize)).ToList();

        Assert.Equal(Enumerable.Range(0, 5).Select(i => task.Generate(2, i)), read);
        Assert.All(read, e => Assert.Same(AnswerRule.Auto, e.AnswerRule));
        _ = PolicyImage.Background;
    }
}
