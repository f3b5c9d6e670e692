using System.Text.Json;
using Grid.Tasks.Datasets;

namespace Grid.Tasks.Tests.Datasets;

public sealed class DatasetRoundTripTests
{
    [Fact]
    public void Export_then_load_gives_identical_records_and_pixels()
    {
        using var folder = new TemporaryFolder();
        var examples = TaskCatalog.All.SelectMany(task => Enumerable.Range(0, 10).Select(i => task.Generate(3, i))).ToList();
        string jsonl = folder.File("mixed.jsonl");
        Assert.Equal(examples.Count, DatasetWriter.Export(examples, jsonl));
        var loaded = DatasetReader.Load(jsonl);
        Assert.Equal(examples, loaded);
        Assert.All(examples.Zip(loaded), pair => Assert.Equal(pair.First.Image.Pixels, pair.Second.Image.Pixels));
    }

    [Fact]
    public void Each_line_holds_the_six_fields_with_the_image_relative_to_the_file()
    {
        using var folder = new TemporaryFolder();
        string jsonl = folder.File("counting.jsonl");
        DatasetWriter.ExportGenerated(TaskCatalog.Get("counting"), seed: 1, count: 3, jsonl);
        var lines = File.ReadAllLines(jsonl);
        Assert.Equal(3, lines.Length);
        using var record = JsonDocument.Parse(lines[2]);
        Assert.Equal(["id", "task", "question", "answer", "image", "reasoning"],
            record.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("counting-000002", record.RootElement.GetProperty("id").GetString());
        Assert.Equal("images/counting-000002.png", record.RootElement.GetProperty("image").GetString());
        Assert.True(File.Exists(folder.File("images/counting-000002.png")));
    }

    [Fact]
    public void Generated_export_holds_examples_zero_to_count_of_the_seeded_stream()
    {
        using var folder = new TemporaryFolder();
        var task = TaskCatalog.Get("geometry");
        string jsonl = folder.File("geometry.jsonl");
        Assert.Equal(5, DatasetWriter.ExportGenerated(task, seed: 8, count: 5, jsonl));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => task.Generate(8, i)), DatasetReader.Load(jsonl));
    }

    [Fact]
    public void Blank_lines_are_skipped_and_reasoning_is_optional()
    {
        using var folder = new TemporaryFolder();
        string jsonl = folder.File("data.jsonl");
        var example = TaskCatalog.Get("counting").Generate(0, 0);
        DatasetWriter.Export([example], jsonl);
        string line = File.ReadAllText(jsonl).Trim();
        string withoutReasoning = line.Replace($",\"reasoning\":\"{example.Reasoning}\"", "");
        File.WriteAllText(jsonl, $"\n{withoutReasoning}\n   \n");
        var loaded = Assert.Single(DatasetReader.Load(jsonl));
        Assert.Equal(example with { Reasoning = "" }, loaded);
    }

    [Fact]
    public void Ids_that_cannot_name_a_file_are_refused_on_export()
    {
        using var folder = new TemporaryFolder();
        var example = TaskCatalog.Get("counting").Generate(0, 0) with { Id = "../evil" };
        var error = Assert.Throws<ArgumentException>(() => DatasetWriter.Export([example], folder.File("d.jsonl")));
        Assert.Contains("\"../evil\"", error.Message);
    }

    [Fact]
    public void The_example_record_quoted_in_error_messages_is_valid_json_with_every_field()
    {
        using var record = JsonDocument.Parse(DatasetFields.ExampleRecord);
        Assert.Equal(["id", "task", "question", "answer", "image", "reasoning"],
            record.RootElement.EnumerateObject().Select(p => p.Name));
    }
}
