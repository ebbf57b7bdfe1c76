package dev.newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.de.GermanLightStemFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/** Lucene's light German stemmer, the one behind Elasticsearch's german analyzer and light_german. */
@NamedComponent("newsflow_german_stem")
public class GermanStemFilterFactory implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream input) {
        return new GermanLightStemFilter(input);
    }
}
