package dev.newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/** Folds accents and other non-ASCII letters to ASCII ("Café" -> "cafe"), like asciifolding. */
@NamedComponent("newsflow_folding")
public class FoldingFilterFactory implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream input) {
        return new ASCIIFoldingFilter(input, false);
    }

    /** Also applies to keyword normalizers and to the terms of prefix and wildcard queries. */
    @Override
    public TokenStream normalize(TokenStream input) {
        return create(input);
    }
}
