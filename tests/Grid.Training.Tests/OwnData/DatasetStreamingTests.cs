using System.Text.Json;
using Grid.Core.Settings;
using Grid.Tasks;
using Grid.Tasks.Datasets;
using Grid.Tasks.Images;
using Grid.Training.Data;
using Grid.Training.Settings;

namespace Grid.Training.Tests.OwnData;

/// <summary>A run's dataset is held as records without pixels; images are decoded when drawn, through a bounded cache.</summary>
public sealed class DatasetStreamingTests : IDisposable
{
    private readonly ColourDataset _data = new(count: DatasetImageCache.DefaultCapacity + 188); // one image per record

    public void Dispose() => _data.Dispose();

    private RunSettings Settings() => RunSettingsLoader.Load("smoke", overrides:
        [$"data.train={JsonSerializer.Serialize(_data.Jsonl)}", "data.answer_kind=choice", "data.eval_fraction=0.25"]);

    [Fact]
    public void The_examples_hold_no_images_and_drawing_every_one_keeps_at_most_the_cache_bound_with_the_pixels_read_at_load()
    {
        var settings = Settings();
        var data = RunData.For(settings);
        var tasks = new[] { (DatasetTask)data.TrainTask }.Concat(data.EvalTasks.Cast<DatasetTask>()).ToArray();

        // Structurally: a record has no property holding pixels, and the task's list is the lazy one.
        Assert.DoesNotContain(typeof(DatasetExample).GetProperties(), p => p.PropertyType == typeof(RgbImage)
            || p.PropertyType == typeof(TaskExample) || p.PropertyType == typeof(byte[]));
        var lists = tasks.Select(t => Assert.IsType<DatasetExampleList>(t.Examples)).ToArray();
        var cache = lists[0].Images;
        Assert.All(lists, l => Assert.Same(cache, l.Images));
        Assert.Equal(0, cache.Count);

        // Every example drawn: the cache never holds more than its bound, and the pixels are those read at load.
        var expected = DatasetReader.Read(_data.Jsonl, RunData.ReadOptions(settings.Data)).ToDictionary(e => e.Id);
        int drawn = 0;
        foreach (var task in tasks)
        {
            foreach (var example in task.Examples)
            {
                Assert.Equal(expected[example.Id].Image, example.Image);
                Assert.Equal(expected[example.Id].Answer, example.Answer);
                Assert.True(cache.Count <= cache.Capacity);
                drawn++;
            }
        }

        Assert.Equal(expected.Count, drawn);
        Assert.Equal(cache.Capacity, cache.Count);
        Assert.Equal(expected.Count, cache.Decodes);

        // A repeated draw of a recent example is not decoded again; Generate is deterministic as before.
        var train = tasks[0];
        int lastIndex = train.Examples.Count - 1;
        var last = train.Examples[lastIndex];
        long decodes = cache.Decodes;
        Assert.Same(last.Image, train.Examples[lastIndex].Image);
        Assert.Equal(decodes, cache.Decodes);
        Assert.Equal(train.Examples[DatasetTask.IndexAt(train.Name, 7, 3, train.Examples.Count)].Id, train.Generate(7, 3).Id);
    }

    [Fact]
    public void Concurrent_draws_give_the_same_pixels_and_keep_the_bound()
    {
        var data = RunData.For(Settings());
        var train = (DatasetTask)data.TrainTask;
        var cache = ((DatasetExampleList)train.Examples).Images;
        var first = Enumerable.Range(0, 64).Select(i => train.Generate(1, i).Image).ToArray();

        Parallel.For(0, 4000, i =>
        {
            var example = train.Generate(1, i % 2000);
            Assert.Equal(48, example.Image.Width);
            Assert.True(cache.Count <= cache.Capacity);
        });

        Assert.Equal(first, Enumerable.Range(0, 64).Select(i => train.Generate(1, i).Image).ToArray());
    }

    [Fact]
    public void An_image_changed_after_loading_is_refused_when_drawn_naming_the_file_and_the_fix()
    {
        var data = RunData.For(Settings());
        var train = (DatasetTask)data.TrainTask;
        var record = ((DatasetExampleList)train.Examples).Records[0];
        var records = ((DatasetExampleList)train.Examples).Records;

        // Other pixels, of the same size where the dataset has such an image: a size check alone would not see it.
        var other = records.FirstOrDefault(r => r.Image.Sha256 != record.Image.Sha256 && r.Image.Bytes == record.Image.Bytes)
            ?? records.First(r => r.Image.Sha256 != record.Image.Sha256);
        File.Copy(other.Image.Path, record.Image.Path, overwrite: true);

        var refusal = Assert.Throws<DatasetFormatException>(() => train.Examples[0]);
        Assert.Contains(record.Image.Path, refusal.Message, StringComparison.Ordinal);
        Assert.Contains("changed after the dataset was read", refusal.Message, StringComparison.Ordinal);
        Assert.Contains(other.Image.Bytes == record.Image.Bytes ? record.Image.Sha256 : $"not the {record.Image.Bytes}",
            refusal.Message, StringComparison.Ordinal);
        Assert.Contains("start the run again", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(record.Line, refusal.LineNumber);

        File.Delete(record.Image.Path);
        Assert.Contains("cannot be read any more", Assert.Throws<DatasetFormatException>(() => train.Examples[0]).Message,
            StringComparison.Ordinal);
    }
}
